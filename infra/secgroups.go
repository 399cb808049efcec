package infra

import (
	"context"
	"net/http"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"

	"github.com/openstrap/openstrap/provider"
)

// ensureGroups finds or creates the managed security groups, then corrects
// their rules: missing managed rules are created, foreign ones deleted.
func (r *run) ensureGroups(ctx context.Context, d *discovered) (map[Role]string, error) {
	if r.spec.SecurityGroups.Unmanaged {
		return nil, nil
	}
	res := make([]sgRes, len(Roles()))
	created := make([]bool, len(Roles()))
	err := parallel(ctx, len(Roles()), func(ctx context.Context, i int) (err error) {
		role := Roles()[i]
		name := r.names.group(role)
		res[i], created[i], err = ensureNamed(ctx, r, groupKind, name, r.known.SecurityGroups[role], d.groups, false,
			func(ctx context.Context) ([]sgRes, error) { return r.listGroups(ctx, q("name", name)) },
			func(ctx context.Context) (out sgRes, err error) {
				err = r.call(ctx, func(ctx context.Context) error {
					g, err := groups.Create(ctx, r.inf.cloud.Network, groups.CreateOpts{
						Name: name, Description: "openstrap cluster " + r.spec.Cluster + ": " + string(role),
					}).Extract()
					if err == nil {
						out = toSG(*g)
					}
					return err
				})
				return out, err
			})
		return err
	})
	if err != nil {
		return nil, err
	}
	ids := map[Role]string{}
	for i, role := range Roles() {
		ids[role] = res[i].ID
		if r.dry && res[i].ID == "" {
			// A group to be created comes with Neutron's default egress
			// rules.
			for _, et := range []string{"IPv4", "IPv6"} {
				res[i].Rules = append(res[i].Rules, observedRule{key: canonicalRule("egress", et, "", 0, 0, "", "")})
			}
			res[i].Name = r.names.group(role)
		}
	}
	desired := r.spec.desiredRules()
	type ruleOp struct {
		role   Role
		group  sgRes
		create *desiredRule
		remove *observedRule
	}
	var ops []ruleOp
	for i, role := range Roles() {
		missing, foreign := ruleDiff(desired[role], res[i].Rules, ids)
		for j := range missing {
			ops = append(ops, ruleOp{role: role, group: res[i], create: &missing[j]})
		}
		for j := range foreign {
			ops = append(ops, ruleOp{role: role, group: res[i], remove: &foreign[j]})
		}
	}
	err = parallel(ctx, len(ops), func(ctx context.Context, i int) error {
		op := ops[i]
		if op.create != nil {
			return r.createRule(ctx, op.group, *op.create, ids)
		}
		return r.deleteRule(ctx, op.group, *op.remove)
	})
	return ids, err
}

func (r *run) createRule(ctx context.Context, g sgRes, d desiredRule, ids map[Role]string) error {
	k := d.key
	if r.dry {
		r.planned(Change{Resource: "security group rule", Name: g.Name, Action: ActionCreate, Detail: k.String()})
		return nil
	}
	opts := rules.CreateOpts{
		Direction: rules.RuleDirection(k.Direction), EtherType: rules.RuleEtherType(k.EtherType),
		SecGroupID: g.ID, Protocol: rules.RuleProtocol(k.Protocol), Description: d.description,
		PortRangeMin: k.PortMin, PortRangeMax: k.PortMax, RemoteIPPrefix: k.RemoteCIDR,
	}
	if k.RemoteGroup != "" {
		opts.RemoteGroupID = ids[Role(k.RemoteGroup)]
	}
	start := now()
	err := r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			_, err := rules.Create(ctx, r.inf.cloud.Network, opts).Extract()
			// A create whose answer was lost and is then retried finds
			// the rule there: SecurityGroupRuleExists.
			if gophercloud.ResponseCodeIs(err, http.StatusConflict) && !provider.IsQuota(err) {
				return nil
			}
			return err
		})
	})
	err = r.fail("create", "security group rule", g.Name, g.ID, hintFor(err), err)
	r.event(Event{Resource: "security group rule", Name: g.Name + ": " + k.String(), Action: ActionCreate, Duration: since(start), Err: err})
	return err
}

func (r *run) deleteRule(ctx context.Context, g sgRes, o observedRule) error {
	if r.dry {
		r.planned(Change{Resource: "security group rule", Name: g.Name, ID: o.id, Action: ActionDelete, Detail: "not managed: " + o.key.String()})
		return nil
	}
	start := now()
	err := r.do(ctx, neutronPolicy, func(ctx context.Context) error {
		return r.call(ctx, func(ctx context.Context) error {
			err := rules.Delete(ctx, r.inf.cloud.Network, o.id).ExtractErr()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			return err
		})
	})
	err = r.fail("delete", "security group rule", g.Name, o.id, "", err)
	r.event(Event{Resource: "security group rule", Name: g.Name + ": " + o.key.String(), ID: o.id, Action: ActionDelete, Duration: since(start), Err: err})
	return err
}
